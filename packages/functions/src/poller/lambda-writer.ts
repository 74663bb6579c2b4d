import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import { CoreError, type WriteEventWire, type WriteReply, type WriteResponse } from "@photo-clusters/core";

/** Hands embeddings to the writer function (inside the VPC, next to EFS) and waits for its per-record results. */
export function createLambdaWriter(lambda: LambdaClient, functionName: string) {
  return async (events: WriteEventWire[]): Promise<WriteReply[]> => {
    const response = await lambda.send(
      new InvokeCommand({ FunctionName: functionName, InvocationType: "RequestResponse", Payload: JSON.stringify({ events }) }),
    );
    const text = response.Payload ? Buffer.from(response.Payload).toString("utf8") : "";
    if (response.FunctionError) {
      throw new CoreError("writer_failed", `writer function failed (${response.FunctionError})`, { retryable: true });
    }
    return (JSON.parse(text) as WriteResponse).results;
  };
}
