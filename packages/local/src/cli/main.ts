/**
 * `pnpm photo-clusters <command>`: upload, clusters, status, delete, token, eval, backfill, migrate.
 * Talks to the local runtime (`pnpm start`) unless told otherwise.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";
import { type EmbeddingStore, openStore, parseObjectKey } from "@photo-clusters/core";
import { createDevAuth } from "../dev-auth.ts";
import { localConfig, quietSdkNodeWarning } from "../config.ts";
import { LOCAL_BUCKET, LOCAL_QUEUE, localClients } from "../emulator.ts";
import { backfill } from "./backfill.ts";
import { listBucket, type ListedObject } from "./object-listing.ts";
import { clustersUrl, deletePhotos, getAllClusters, getJson, type StatusBody } from "./api-client.ts";
import { runCalibrate } from "./calibrate.ts";
import { runEval } from "./eval.ts";
import { collectPhotos, putToBucket, putViaApi, toStderr, uploadPhotos } from "./upload.ts";

const USAGE = `usage: pnpm photo-clusters <command> [options]

commands:
  upload --user <id> <files|dirs>...   upload photos (to the local bucket "${LOCAL_BUCKET}" by default;
                                       --bucket <name> --aws for a real bucket with your AWS configuration;
                                       --via-api [--token <jwt>] as the app does: the API (API_URL) signs an
                                       upload for each photo, which goes straight to S3)
  clusters --user <id> [--threshold t] [--min-size n] [--json]
                                       print the user's clusters from the API (default ${"$"}API_URL or http://127.0.0.1:${"$"}PORT)
  status --user <id> [--json]          how many of the user's photos are stored, and which failed and why
  delete --user <id> [--token <jwt>] <imageId>...
                                       delete photos through the API as a review does (their S3 objects go, then the
                                       pipeline removes them from the store); names each photo deleted or why not
  token --user <id> [--ttl seconds]    print a token the local API accepts (alone on the last line)
  backfill [--bucket b] [--prefix users/] [--inventory manifest.json|file.csv.gz] [--rate N] [--dry-run]
           [--reembed] [--aws --queue-url <url>]
                                       enqueue S3 events for objects already in a bucket, skipping what is stored,
                                       with a checkpoint: rerun after an interruption to resume
  eval <dir with groups.csv> [--threshold t]...
                                       start a private local runtime, upload the photos as a fresh user, wait
                                       until all are stored, print pairwise precision/recall/F1 and throughput
  calibrate <dir with groups.csv> [--model <id|descriptor.json>] [--model-path <file.onnx>]
            [--endpoint <name> [--endpoint-url <url>] [--region <r>]] [--center] [--out <file.json>]
                                       embed labelled photos (model file, or a deployed endpoint), fit the model's
                                       calibration, graph floor and threshold, print in-sample and cross-validated F1,
                                       and write a descriptor file for MODEL_DESCRIPTOR
  migrate [--user <id>]                bring every user's store files in DATA_DIR (or one user's) to the current
                                       format; safe while the runtime writes (it takes each user's lock)

environment: PORT (3000), EMULATOR_PORT (4566), DATA_DIR (.data), MODEL_PATH, MODEL_DESCRIPTOR, API_URL`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  // The same settings as `pnpm start`, so the CLI finds its emulator, API, data and model.
  const config = localConfig();
  quietSdkNodeWarning();
  const apiUrl = config.apiUrl;
  const dataDir = config.dataDir;
  const emulator = `http://127.0.0.1:${config.emulatorPort}`;
  switch (command) {
    case "upload": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { user: { type: "string" }, bucket: { type: "string" }, aws: { type: "boolean" }, "via-api": { type: "boolean" }, token: { type: "string" } },
      });
      const user = required(values.user, "--user");
      if (positionals.length === 0) throw new Error("upload needs at least one file or folder");
      if (values["via-api"] && (values.aws || values.bucket)) throw new Error("--via-api uploads where the API signs for; it takes no --aws or --bucket");
      let skipped = 0;
      const items = await collectPhotos(user, positionals, (path, reason) => {
        skipped++;
        toStderr(path, reason);
      });
      if (items.length === 0) throw new Error(`no photos to upload in ${positionals.join(", ")}${skipped ? ` (${skipped} skipped, reasons above)` : ""}`);
      const left = skipped ? `; ${skipped} skipped (reasons above)` : "";
      if (values["via-api"]) {
        const token = values.token ?? (await (await createDevAuth(dataDir)).issueDevToken(user, 3600));
        try {
          await uploadPhotos(putViaApi(apiUrl, token), items);
        } catch (error) {
          if (/fetch failed|ECONNREFUSED/.test(String((error as Error).message)))
            throw new Error(`cannot reach the API at ${apiUrl} or the S3 it signs for; is \`pnpm start\` running?`);
          throw error;
        }
        process.stderr.write(`uploaded ${items.length} photos through ${apiUrl} for user ${user}${left}\n`);
        return;
      }
      const s3 = values.aws ? new S3Client({}) : localClients(emulator).s3;
      const bucket = values.bucket ?? (values.aws ? undefined : LOCAL_BUCKET);
      if (!bucket) throw new Error("--aws needs --bucket <name>");
      try {
        await uploadPhotos(putToBucket(s3, bucket), items);
      } catch (error) {
        const e = error as Error & { code?: string };
        if (!values.aws && (e.code === "ECONNREFUSED" || /ECONNREFUSED/.test(String(e.message))))
          throw new Error(`cannot reach the local S3 at ${emulator}; start it with \`pnpm start\``);
        throw error;
      }
      process.stderr.write(`uploaded ${items.length} photos to s3://${bucket}/users/${user}/${left}\n`);
      return;
    }
    case "clusters": {
      const { values } = parseArgs({
        args: rest,
        options: { user: { type: "string" }, threshold: { type: "string" }, "min-size": { type: "string" }, json: { type: "boolean" } },
      });
      const user = required(values.user, "--user");
      const token = await (await createDevAuth(dataDir)).issueDevToken(user, 300);
      const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
      const minSize = values["min-size"] === undefined ? undefined : Number(values["min-size"]);
      const body = await getAllClusters(clustersUrl(apiUrl, user, threshold, minSize), token);
      if (values.json) return void process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      process.stdout.write(
        `${body.userId}: ${body.imageCount} photos, ${body.clusters.length} clusters at ${body.threshold} (${body.model}), ${body.singletonCount} alone\n`,
      );
      for (const c of body.clusters) {
        process.stdout.write(
          `  ${c.band.padEnd(6)} ${String(c.size).padStart(3)} photos  min ${c.minSimilarity.toFixed(3)} mean ${c.meanSimilarity.toFixed(3)}  ${c.images.map((i) => i.imageId).join(" ")}\n`,
        );
      }
      return;
    }
    case "status": {
      const { values } = parseArgs({ args: rest, options: { user: { type: "string" }, json: { type: "boolean" } } });
      const user = required(values.user, "--user");
      const token = await (await createDevAuth(dataDir)).issueDevToken(user, 300);
      const body = await getJson<StatusBody>(new URL(`/users/${encodeURIComponent(user)}/status`, apiUrl).toString(), token);
      if (values.json) return void process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      process.stdout.write(`${body.userId}: ${body.stored} photos stored, ${body.failed.length} failed\n`);
      for (const f of body.failed) process.stdout.write(`  ${f.at}  ${f.code.padEnd(18)} ${f.key}: ${f.message}\n`);
      return;
    }
    case "delete": {
      const { values, positionals } = parseArgs({ args: rest, options: { user: { type: "string" }, token: { type: "string" } }, allowPositionals: true });
      const user = required(values.user, "--user");
      if (positionals.length === 0) throw new Error("name at least one image id to delete");
      const token = values.token ?? (await (await createDevAuth(dataDir)).issueDevToken(user, 300));
      const outcomes = await deletePhotos(apiUrl, user, positionals, token);
      for (const o of outcomes) process.stdout.write("key" in o ? `deleted ${o.imageId} (${o.key})\n` : `not deleted ${o.imageId}: ${o.error}\n`);
      const failed = outcomes.filter((o) => "error" in o).length;
      if (failed > 0) throw new Error(`${failed} of ${outcomes.length} photos not deleted`);
      return;
    }
    case "token": {
      const { values } = parseArgs({ args: rest, options: { user: { type: "string" }, ttl: { type: "string", default: "3600" } } });
      const token = await (await createDevAuth(dataDir)).issueDevToken(required(values.user, "--user"), Number(values.ttl));
      process.stderr.write(`a token for the local API (data dir ${dataDir}), valid ${values.ttl} s:\n`);
      process.stdout.write(`${token}\n`);
      return;
    }
    case "backfill": {
      const { values } = parseArgs({
        args: rest,
        options: {
          bucket: { type: "string" },
          prefix: { type: "string", default: "users/" },
          inventory: { type: "string" },
          rate: { type: "string", default: "100" },
          "dry-run": { type: "boolean" },
          reembed: { type: "boolean" },
          aws: { type: "boolean" },
          "queue-url": { type: "string" },
        },
      });
      const rate = Number(values.rate);
      if (!(rate > 0)) throw new Error("--rate must be a positive number of messages per second");
      const clients = values.aws ? { s3: new S3Client({}), sqs: new SQSClient({}) } : localClients(emulator);
      const bucket = values.bucket ?? (values.aws ? undefined : LOCAL_BUCKET);
      const queueUrl = values["queue-url"] ?? (values.aws ? undefined : (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: LOCAL_QUEUE }))).QueueUrl);
      if (!bucket || !queueUrl) throw new Error("--aws needs --bucket <name> and --queue-url <url>");
      // The store is readable here only when it is local; in AWS the writer's idempotency does the skipping.
      const stored = values.reembed || values.aws ? undefined : storedEtags(openStore({ root: dataDir, model: config.model }));
      const result = await backfill({
        sqs: clients.sqs,
        queueUrl,
        bucket,
        prefix: values.prefix!,
        rate,
        dryRun: Boolean(values["dry-run"]),
        listing: values.inventory
          ? { kind: "inventory", path: values.inventory }
          : { kind: "bucket", list: (after) => listBucket(clients.s3, bucket, values.prefix!, after) },
        isStored: async (o) => (await stored?.(o)) ?? false,
        checkpointDir: join(dataDir, ".backfill"),
        mode: values.reembed ? "reembed" : undefined,
      });
      process.stderr.write(
        `${values["dry-run"] ? "dry run: would enqueue" : "enqueued"} ${result.enqueued} of ${result.listed} objects${result.resumedAfter ? ` (resumed after ${result.resumedAfter})` : ""}; ${result.skipped} already stored, ${result.invalid} with invalid keys\n`,
      );
      return;
    }
    case "eval": {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { threshold: { type: "string", multiple: true } } });
      if (positionals.length !== 1) throw new Error("eval needs one folder holding photos and groups.csv");
      await runEval(positionals[0], { thresholds: values.threshold?.map(Number), modelPath: config.modelPath });
      return;
    }
    case "calibrate": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          model: { type: "string" },
          "model-path": { type: "string" },
          endpoint: { type: "string" },
          "endpoint-url": { type: "string" },
          region: { type: "string" },
          center: { type: "boolean" },
          out: { type: "string", default: "model-descriptor.json" },
        },
      });
      if (positionals.length !== 1) throw new Error("calibrate needs one folder holding photos and groups.csv");
      if (values.endpoint && values["model-path"]) throw new Error("give --endpoint or --model-path, not both");
      await runCalibrate(positionals[0], {
        model: values.model,
        modelPath: values["model-path"] ?? config.modelPath,
        endpoint: values.endpoint,
        endpointUrl: values["endpoint-url"],
        region: values.region ?? config.awsRegion,
        center: values.center,
        out: values.out!,
      });
      return;
    }
    case "migrate": {
      const { values } = parseArgs({ args: rest, options: { user: { type: "string" } } });
      const say = (message: string, fields?: Record<string, unknown>) => void process.stderr.write(`${message} ${JSON.stringify(fields ?? {})}\n`);
      const store = openStore({ root: dataDir, model: config.model, logger: { warn: say, error: say, debug() {} } });
      const users = values.user ? [values.user] : await store.listUsers();
      let upgraded = 0;
      for (const userId of users) {
        const result = await store.migrate(userId);
        if (result.upgraded) upgraded++;
        process.stderr.write(`${userId}: ${result.upgraded ? "upgraded" : "already current"} (${result.records} records)\n`);
      }
      process.stderr.write(`migrate: ${upgraded} of ${users.length} users upgraded in ${dataDir} (model ${config.model.id})\n`);
      return;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new Error(`unknown command "${command}"\n\n${USAGE}`);
  }
}

/** Whether the local store already holds this object at this etag; one read per user. */
function storedEtags(store: EmbeddingStore) {
  const users = new Map<string, Promise<Map<string, string>>>();
  return async (object: ListedObject): Promise<boolean> => {
    const { userId } = parseObjectKey(object.key);
    if (!users.has(userId))
      users.set(
        userId,
        store.read(userId).then((s) => new Map(s.images.map((i) => [i.key, i.etag]))),
      );
    return (await users.get(userId)!).get(object.key) === object.etag;
  };
}

function required(value: string | undefined, flag: string): string {
  if (!value) throw new Error(`${flag} is required`);
  return value;
}

// `… | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

main(process.argv.slice(2)).catch((error: Error) => {
  process.stderr.write(`photo-clusters: ${error.message}\n`);
  process.exit(1);
});
