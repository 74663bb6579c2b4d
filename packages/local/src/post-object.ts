/**
 * S3's browser upload (POST Object with a Signature Version 4 policy) for the local S3, which fauxqs
 * lacks. It checks what our uploads rely on S3 to check: the signature over the policy with the
 * credential's secret, the credential's scope (region, service, and the date X-Amz-Date has), the
 * expiry, every condition (exact match, starts-with, content-length-range), that no form field goes
 * unmentioned by the policy, and that none comes twice. Other S3 rules (ACLs, redirects, success
 * status codes, checksums) are not modelled. Then it stores the file with an ordinary PutObject through the
 * same emulator, so the bridge notifies the queue as for any other upload. Written from AWS's
 * description of the protocol, independently of the signer in functions/src/api/uploads.ts.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

type Condition = Record<string, unknown> | unknown[];

export interface PostObjectRequest {
  bucket: string;
  /** The bucket's region: a credential scoped to another is refused. */
  region: string;
  contentType: string;
  body: Buffer;
  now?: Date;
}

export type PostObjectResult =
  | { ok: true; key: string; contentType: string; file: Uint8Array }
  | { ok: false; status: 400 | 403; code: string; message: string };

/** Form fields S3 does not ask the policy to mention. */
const UNSIGNED = new Set(["policy", "x-amz-signature", "file"]);

const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/** The Signature Version 4 signing key: date, region and service folded into the secret. */
function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
}

const deny = (message: string): PostObjectResult => ({ ok: false, status: 403, code: "AccessDenied", message });
const invalid = (message: string): PostObjectResult => ({ ok: false, status: 400, code: "InvalidArgument", message });

/**
 * Checks a multipart/form-data POST against its policy. `secretOf` gives the secret of an access
 * key id, or undefined for an unknown one.
 */
export async function checkPostObject(request: PostObjectRequest, secretOf: (accessKeyId: string) => string | undefined): Promise<PostObjectResult> {
  let form: FormData;
  try {
    form = await new Response(request.body, { headers: { "Content-Type": request.contentType } }).formData();
  } catch {
    return invalid("the body is not multipart/form-data");
  }
  // Field names are case-insensitive; S3 ignores what follows the file.
  const fields = new Map<string, string>();
  let file: File | undefined;
  for (const [name, value] of form) {
    if (file) {
      // S3 ignores fields after the file; a second file is refused.
      if (name.toLowerCase() === "file") return invalid("POST requires exactly one file upload per request");
      continue;
    }
    if (name.toLowerCase() === "file") {
      if (typeof value === "string") return invalid("the file field must be a file");
      file = value;
    } else if (typeof value === "string") {
      if (fields.has(name.toLowerCase())) return invalid(`the form has the field ${name} more than once`);
      fields.set(name.toLowerCase(), value);
    }
  }
  if (!file) return invalid("POST requires exactly one file upload per request");
  const field = (name: string) => fields.get(name);

  const policyB64 = field("policy");
  const signature = field("x-amz-signature");
  const credential = field("x-amz-credential");
  if (!policyB64 || !signature || !credential) return deny("a POST needs policy, x-amz-credential and x-amz-signature");
  if (field("x-amz-algorithm") !== "AWS4-HMAC-SHA256") return invalid("x-amz-algorithm must be AWS4-HMAC-SHA256");
  const [accessKeyId, date, region, service, terminator, ...extra] = credential.split("/");
  const secret = secretOf(accessKeyId);
  if (!secret || extra.length > 0 || service !== "s3" || terminator !== "aws4_request" || !/^\d{8}$/.test(date ?? "")) {
    return deny("the x-amz-credential is not valid");
  }
  if (region !== request.region) return invalid(`the x-amz-credential is scoped to region ${region}; this bucket is in ${request.region}`);
  if (!(field("x-amz-date") ?? "").startsWith(`${date}T`)) return invalid("x-amz-date must be a time on the x-amz-credential's date");
  const expected = hmac(signingKey(secret, date, region, service), policyB64);
  const given = Buffer.from(signature, "hex");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return deny("The request signature we calculated does not match the signature you provided.");
  }

  let policy: { expiration?: unknown; conditions?: unknown };
  try {
    policy = JSON.parse(Buffer.from(policyB64, "base64").toString("utf8"));
  } catch {
    return invalid("the policy is not base64-encoded JSON");
  }
  const expiration = typeof policy.expiration === "string" ? Date.parse(policy.expiration) : NaN;
  if (Number.isNaN(expiration)) return invalid("the policy has no valid expiration");
  if (expiration <= (request.now ?? new Date()).getTime()) return deny("Invalid according to Policy: Policy expired.");
  if (!Array.isArray(policy.conditions)) return invalid("the policy has no conditions");

  const values = new Map(fields);
  values.set("bucket", request.bucket);
  const mentioned = new Set<string>(["bucket"]);
  for (const condition of policy.conditions as Condition[]) {
    const failed = `Invalid according to Policy: Policy Condition failed: ${JSON.stringify(condition)}`;
    if (Array.isArray(condition)) {
      const [op, subject, operand] = condition;
      if (op === "content-length-range") {
        if (!(file.size >= Number(subject) && file.size <= Number(operand))) {
          return {
            ok: false,
            status: 400,
            code: "EntityTooLarge",
            message: `Your proposed upload is outside the size range ${subject}–${operand} bytes: ${file.size}`,
          };
        }
        continue;
      }
      if (typeof subject !== "string" || !subject.startsWith("$") || typeof operand !== "string")
        return invalid(`the policy has a malformed condition: ${JSON.stringify(condition)}`);
      const name = subject.slice(1).toLowerCase();
      mentioned.add(name);
      const value = values.get(name) ?? "";
      if (op === "eq" ? value !== operand : op === "starts-with" ? !value.startsWith(operand) : true) return deny(failed);
    } else {
      for (const [name, operand] of Object.entries(condition)) {
        mentioned.add(name.toLowerCase());
        if (values.get(name.toLowerCase()) !== operand) return deny(failed);
      }
    }
  }
  const extraFields = [...fields.keys()].filter((name) => !UNSIGNED.has(name) && !name.startsWith("x-ignore-") && !mentioned.has(name));
  if (extraFields.length > 0) return deny(`Invalid according to Policy: Extra input fields: ${extraFields.join(", ")}`);

  const key = field("key");
  if (!key) return invalid("a POST needs a key field");
  return { ok: true, key, contentType: field("content-type") ?? "binary/octet-stream", file: new Uint8Array(await file.arrayBuffer()) };
}

/** S3's error document. */
export function s3ErrorXml(code: string, message: string): string {
  const xml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xml(code)}</Code><Message>${xml(message)}</Message></Error>`;
}
