export * from "./ingest-batch.ts";
export * from "./write-payload.ts";
export * from "./write-events.ts";
