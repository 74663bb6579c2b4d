import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeS3Key, encodeS3Key, ID_PATTERN, IMAGE_EXTENSIONS, parseObjectKey } from "./keys.ts";

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
    // Ids from path-like pieces (dots, slashes, spaces, valid characters) or anything at all, and
    // file names that end in an accepted extension, so that most keys get as far as the id checks.
    const piece = fc.oneof(
      { arbitrary: fc.constantFrom("a", "Z", "0", "_", "-"), weight: 6 },
      { arbitrary: fc.constantFrom(".", "..", "/", " ", "%2e"), weight: 2 },
      { arbitrary: fc.string({ maxLength: 2 }), weight: 1 },
    );
    const id = fc.oneof({ arbitrary: fc.array(piece, { minLength: 1, maxLength: 4 }).map((p) => p.join("")), weight: 4 }, { arbitrary: fc.string(), weight: 1 });
    const ext = fc.constantFrom(...IMAGE_EXTENSIONS, "JPG", "txt", "");
    let accepted = 0;
    fc.assert(
      fc.property(id, id, ext, (user, image, extension) => {
        try {
          const parsed = parseObjectKey(`users/${user}/${image}.${extension}`);
          accepted++;
          return [parsed.userId, parsed.imageId].every((x) => ID_PATTERN.test(x) && x !== "." && x !== ".." && !x.includes("/"));
        } catch {
          return true;
        }
      }),
      { numRuns: 2000 },
    );
    // The property is only worth something if many keys reach the id checks and pass them.
    expect(accepted).toBeGreaterThan(100);
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
