import type { SSTConfig } from "sst";
import { Api } from "./stacks/Api.ts";
import { NODEJS } from "./stacks/bundling.ts";
import { Embedding } from "./stacks/Embedding.ts";
import { addNagChecks } from "./stacks/nag.ts";
import { metricsNamespace, Monitoring } from "./stacks/Monitoring.ts";
import { Pipeline } from "./stacks/Pipeline.ts";
import { Storage } from "./stacks/Storage.ts";

export default {
  config(input) {
    return { name: "photo-clusters", region: input.region ?? "us-east-1" };
  },
  stacks(app) {
    // S3 server access logs delivered under a bucket policy, not the legacy log-delivery ACL.
    app.node.setContext("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", true);
    app.setDefaultFunctionProps({
      runtime: "nodejs24.x",
      architecture: "arm_64",
      // X-Ray active tracing: Lambda samples and records every invocation, the functions add subsegments.
      tracing: "active",
      nodejs: NODEJS,
      // Where the functions' EMF metric lines go (see docs/operating.md).
      environment: { METRICS_NAMESPACE: metricsNamespace(app.stage) },
    });
    app.stack(Storage).stack(Embedding).stack(Pipeline).stack(Api).stack(Monitoring);
    // cdk-nag AwsSolutions on every stack, in `sst deploy`, `pnpm synth` and the tests alike.
    addNagChecks(app);
  },
} satisfies SSTConfig;
