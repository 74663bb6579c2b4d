import { describe, expect, it } from "vitest";
import { ConfigError } from "@photo-clusters/core";
import { localConfig, quietSdkNodeWarning } from "./config.ts";

describe("localConfig", () => {
  it("reads every setting of pnpm start and the CLI from the environment, with the documented defaults", () => {
    expect(localConfig({})).toMatchObject({ port: 3000, emulatorPort: 4566, dataDir: ".data", apiUrl: "http://127.0.0.1:3000", awsRegion: "us-east-1" });
    expect(localConfig({ PORT: "4000", AWS_REGION: "eu-west-1" })).toMatchObject({ apiUrl: "http://127.0.0.1:4000", awsRegion: "eu-west-1" });
    expect(localConfig({ API_URL: "https://api.example" }).apiUrl).toBe("https://api.example");
    expect(() => localConfig({ PORT: "http" })).toThrow(ConfigError);
  });

  it("silences the SDK's Node version notice unless it was set", () => {
    const env: NodeJS.ProcessEnv = {};
    quietSdkNodeWarning(env);
    expect(env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBe("true");
    const chosen: NodeJS.ProcessEnv = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "false" };
    quietSdkNodeWarning(chosen);
    expect(chosen.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBe("false");
  });
});
