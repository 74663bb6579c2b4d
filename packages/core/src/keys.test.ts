import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeS3Key, encodeS3Key, parseObjectKey } from "./keys.ts";

describe("parseObjectKey", () => {
  it("reads the user and image of a well-formed key", () => {
    expect(parseObjectKey("users/alice/7bcafddb.JPG")).toEqual({ key: "users/alice/7bcafddb.JPG", userId: "alice", imageId: "7bcafddb", ext: "jpg" });
  });

  it.each([
    ["a space", "users/alice/my photo.jpg", /image id/],
    ["a plus", "users/alice/a+b.jpg", /image id/],
    ["unicode", "users/alice/café.jpg", /image id/],
    ["a parent segment", "users/../etc.jpg", /user id/],
    ["dot-dot image", "users/alice/...jpg", /image id/],
    ["an extra segment", "users/alice/x/y.jpg", /not of the form/],
    ["a bad user id", "users/al ice/x.jpg", /user id/],
    ["an empty user id", "users//x.jpg", /user id/],
    ["another prefix", "uploads/alice/x.jpg", /not of the form/],
    ["a text extension", "users/alice/x.txt", /extension/],
    ["no extension", "users/alice/x", /extension/],
  ])("rejects a key with %s and says why", (_, key, reason) => {
    expect(() => parseObjectKey(key)).toThrow(reason);
  });

  it("never accepts a key whose ids could leave the user's directory", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (user, file) => {
        try {
          const parsed = parseObjectKey(`users/${user}/${file}`);
          return /^[A-Za-z0-9_-]+$/.test(parsed.userId) && /^[A-Za-z0-9_-]+$/.test(parsed.imageId);
        } catch {
          return true;
        }
      }),
    );
  });
});

describe("S3 key encoding", () => {
  it("decodes + as a space and percent escapes", () => {
    expect(decodeS3Key("users/alice/beach+day%21.jpg")).toBe("users/alice/beach day!.jpg");
  });

  it("round-trips any key", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), (key) => decodeS3Key(encodeS3Key(key)) === key));
  });

  it("rejects broken percent escapes with a clear error", () => {
    expect(() => decodeS3Key("users/alice/%E0%A4%A.jpg")).toThrow(/not valid URL encoding/);
  });
});
