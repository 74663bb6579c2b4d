export * from "./ingest-batch.ts";
export * from "./write-payload.ts";
