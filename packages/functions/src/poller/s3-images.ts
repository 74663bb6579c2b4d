import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { type FetchedImage, type ObjectChange, PermanentRecordError, type Preprocessing } from "@photo-clusters/core";
import { smallImage } from "./small-image.ts";

export interface S3ImageOptions {
  /** Objects larger than this are refused without downloading them (MAX_OBJECT_BYTES). */
  maxObjectBytes: number;
  /** The model's preprocessing: the endpoint is sent the model's input cut from the photo. */
  preprocessing: Preprocessing;
}

/**
 * Reads an uploaded photo at exactly the etag its event names (a newer or deleted object is "gone")
 * and decodes it once, to the small upright image the endpoint is sent.
 */
export function createS3ImageSource(s3: S3Client, options: S3ImageOptions) {
  return async (change: ObjectChange): Promise<FetchedImage | "gone"> => {
    let response: GetObjectCommandOutput;
    try {
      response = await s3.send(new GetObjectCommand({ Bucket: change.bucket, Key: change.key, IfMatch: `"${change.etag}"` }));
    } catch (error) {
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === "NoSuchKey" || e.name === "PreconditionFailed" || e.$metadata?.httpStatusCode === 412) return "gone";
      throw error;
    }
    const length = response.ContentLength ?? 0;
    if (length > options.maxObjectBytes) {
      response.Body?.transformToWebStream()
        .cancel()
        .catch(() => {});
      throw new PermanentRecordError("too_large", `object is ${length} bytes, over the ${options.maxObjectBytes}-byte limit`);
    }
    if (length === 0) throw new PermanentRecordError("empty_object", "object is empty (0 bytes)");
    const small = await smallImage(await response.Body!.transformToByteArray(), options.preprocessing);
    return { bytes: small.bytes, contentType: small.contentType, facts: small.facts };
  };
}
