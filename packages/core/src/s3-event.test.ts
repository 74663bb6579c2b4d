import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseS3Message, s3EventMessage } from "./s3-event.ts";

const fixture = (name: string) => readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), "utf8");

describe("parseS3Message", () => {
  it("reads an upload with its decoded key, etag and sequencer", () => {
    const parsed = parseS3Message(fixture("s3-put.json"));
    expect(parsed).toEqual({
      kind: "changes",
      changes: [
        {
          kind: "put",
          bucket: "photos-prod",
          key: "users/alice/beach day_01.jpg",
          etag: "d41d8cd98f00b204e9800998ecf8427e",
          size: 1024,
          sequencer: "0055AED6DCD90281E5",
          eventName: "ObjectCreated:Put",
        },
      ],
    });
  });

  it("reads a delete, which carries no etag", () => {
    const parsed = parseS3Message(fixture("s3-delete.json"));
    expect(parsed.kind === "changes" && parsed.changes[0]).toMatchObject({ kind: "delete", key: "users/alice/beach_01.jpg", etag: undefined });
  });

  it("acknowledges S3's test event", () => {
    expect(parseS3Message(fixture("s3-test-event.json"))).toEqual({ kind: "test" });
  });

  it.each([
    ["not JSON", "{", /not JSON/],
    ["no records", "{}", /no Records/],
    [
      "an unknown event",
      JSON.stringify({ Records: [{ eventName: "ObjectRestore:Post", s3: { bucket: { name: "b" }, object: { key: "k", sequencer: "01" } } }] }),
      /unsupported event/,
    ],
    ["no sequencer", JSON.stringify({ Records: [{ eventName: "ObjectRemoved:Delete", s3: { bucket: { name: "b" }, object: { key: "k" } } }] }), /sequencer/],
  ])("rejects %s with a clear reason", (_, body, reason) => {
    expect(() => parseS3Message(body)).toThrow(reason);
  });

  it("parses what the local bridge sends exactly as what S3 sends", () => {
    const body = s3EventMessage({
      kind: "put",
      eventName: "ObjectCreated:Put",
      bucket: "photos",
      key: "users/bob/a b+c.png",
      etag: "abc",
      size: 5,
      sequencer: "00AB",
    });
    expect(parseS3Message(body)).toMatchObject({ changes: [{ kind: "put", key: "users/bob/a b+c.png", etag: "abc", sequencer: "00AB" }] });
  });
});
