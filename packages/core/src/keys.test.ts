import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeS3Key, encodeS3Key, ID_PATTERN, IMAGE_EXTENSIONS, type ObjectKey, parseObjectKey } from "./keys.ts";

describe("parseObjectKey", () => {
  it("reads the user and image of a well-formed key", () => {
    expect(parseObjectKey("users/alice/7bcafddb.JPG")).toEqual({ key: "users/alice/7bcafddb.JPG", userId: "alice", imageId: "7bcafddb", ext: "jpg" });
  });

  it.each([
    ["a space", "users/alice/IMG 0012.jpg", "IMG 0012"],
    ["a copy's suffix", "users/alice/IMG_1234 (1).jpg", "IMG_1234 (1)"],
    ["a camera upload's date", "users/alice/2019-05-01 12.30.45.jpg", "2019-05-01 12.30.45"],
    ["a plus", "users/alice/a+b.jpg", "a+b"],
    ["Unicode", "users/alice/café ☕.webp", "café ☕"],
    ["sub-folders", "users/alice/2024/05/IMG 0001.JPG", "2024/05/IMG 0001"],
    ["dots inside", "users/alice/.hidden/x.y.png", ".hidden/x.y"],
    ["an iPhone's upper-case HEIC", "users/alice/IMG_0001.HEIC", "IMG_0001"],
    ["a HEIF", "users/alice/scan.heif", "scan"],
    ["an AVIF", "users/alice/PXL_2024.avif", "PXL_2024"],
  ])("accepts a key with %s, its path as the image id", (_, key, imageId) => {
    expect(parseObjectKey(key)).toMatchObject({ key, userId: "alice", imageId });
  });

  it.each([
    ["a parent segment", "users/alice/2024/../x.jpg", /image id has a "\.\." segment/],
    ["a dot segment", "users/alice/./x.jpg", /image id has a "\." segment/],
    ["a dot-dot name", "users/alice/...jpg", /image id has a "\.\." segment/],
    ["an empty segment", "users/alice/2024//x.jpg", /image id has an empty segment/],
    ["an empty name", "users/alice/.jpg", /extension/],
    ["an id over 1,024 bytes", `users/alice/${"é".repeat(513)}.jpg`, /image id is over 1024 bytes/],
    ["a user outside the pattern", "users/../etc/passwd.jpg", /user id/],
    ["a bad user id", "users/al ice/x.jpg", /user id/],
    ["an empty user id", "users//x.jpg", /user id/],
    ["another prefix", "uploads/alice/x.jpg", /not of the form/],
    ["no name", "users/alice", /not of the form/],
    ["a text extension", "users/alice/x.txt", /extension/],
    ["no extension", "users/alice/2024/x", /extension/],
  ])("rejects a key with %s and says why", (_, key, reason) => {
    expect(() => parseObjectKey(key)).toThrow(reason);
  });

  it("accepts only keys whose user id is one directory name and whose image id is the rest, without its extension", () => {
    // Names from path-like pieces, so that many keys get as far as the id checks.
    const piece = fc.oneof(
      { arbitrary: fc.constantFrom("a", "Z", "0", "_", "-", " ", "+", "é", "(1)"), weight: 6 },
      { arbitrary: fc.constantFrom(".", "..", "/", "%2e"), weight: 2 },
      { arbitrary: fc.string({ maxLength: 2 }), weight: 1 },
    );
    const name = fc.oneof(
      { arbitrary: fc.array(piece, { minLength: 1, maxLength: 6 }).map((p) => p.join("")), weight: 4 },
      { arbitrary: fc.string(), weight: 1 },
    );
    const ext = fc.constantFrom(...IMAGE_EXTENSIONS, "JPG", "txt", "");
    let accepted = 0;
    fc.assert(
      fc.property(name, name, ext, (user, image, extension) => {
        const key = `users/${user}/${image}.${extension}`;
        let parsed: ObjectKey;
        try {
          parsed = parseObjectKey(key);
        } catch {
          return true;
        }
        accepted++;
        const segments = parsed.imageId.split("/");
        return (
          ID_PATTERN.test(parsed.userId) &&
          segments.every((x) => x !== "" && x !== "." && x !== "..") &&
          key === `users/${parsed.userId}/${parsed.imageId}.${key.slice(key.lastIndexOf(".") + 1)}`
        );
      }),
      { numRuns: 2000 },
    );
    // The property is only worth something if many keys reach the id checks and pass them.
    expect(accepted).toBeGreaterThan(100);
  });

  it("accepts every name made of segments that are neither empty, '.' nor '..', with an image extension", () => {
    const segment = fc.string({ minLength: 1, maxLength: 12 }).filter((x) => !x.includes("/") && x !== "." && x !== "..");
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), fc.constantFrom(...IMAGE_EXTENSIONS, "JPG", "Png"), (segments, ext) => {
        const imageId = segments.join("/");
        return parseObjectKey(`users/u-1/${imageId}.${ext}`).imageId === imageId;
      }),
      { numRuns: 1000 },
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
