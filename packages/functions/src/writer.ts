/** Lambda (in the VPC, EFS at DATA_DIR): appends the poller's embeddings to each user's file under its lock. */
import type { WritePayload, WriteResponse } from "@photo-clusters/core/ingest/index";
import { jsonLogger } from "@photo-clusters/core/logger";
import { openStore } from "@photo-clusters/core/store/index";
import { writerConfig } from "./config.ts";
import { writeEvents } from "./writer/write-events.ts";

const config = writerConfig();
const logger = jsonLogger({ function: "writer" });
const store = openStore({ root: config.dataDir, model: config.model, logger });
const previous = config.previousModel && openStore({ root: config.dataDir, model: config.previousModel, logger });

export const handler = async (payload: WritePayload): Promise<WriteResponse> => ({
  results: await writeEvents(store, payload.events, logger, previous),
});
