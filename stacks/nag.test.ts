import { App, Stack } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import { describe, expect, it } from "vitest";
import { addNagChecks, nagErrors, suppress } from "./nag.ts";

// A bare CDK app (no SST): what `pnpm synth` relies on to fail the build.
function synthWith(configure: (bucket: s3.Bucket) => void) {
  const app = new App();
  const stack = new Stack(app, "dev-nag-probe");
  // No TLS-only policy, no access logs: AwsSolutions-S1 and -S10 errors.
  configure(new s3.Bucket(stack, "Careless", { blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL }));
  addNagChecks(app);
  return app.synth();
}

describe("nagErrors", () => {
  it("reports an unsuppressed AwsSolutions error with its rule and resource", () => {
    const errors = nagErrors(synthWith(() => {}));
    expect(errors.map((e) => e.message.slice(0, 16))).toEqual(expect.arrayContaining(["AwsSolutions-S1:", "AwsSolutions-S10"]));
    expect(errors[0].path).toBe("/dev-nag-probe/Careless/Resource");
  });

  it("stops reporting a rule once it is suppressed with a reason", () => {
    const errors = nagErrors(
      synthWith((bucket) => suppress(bucket, [{ id: "AwsSolutions-S1", reason: "probe bucket in a unit test: nothing is stored in it, ever" }])),
    );
    expect(errors.some((e) => e.message.startsWith("AwsSolutions-S1:"))).toBe(false);
    expect(errors.some((e) => e.message.startsWith("AwsSolutions-S10"))).toBe(true);
  });
});
