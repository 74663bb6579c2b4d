import { afterEach, describe, expect, it, vi } from "vitest";
import { systemTool } from "./system-tool.ts";

afterEach(() => vi.unstubAllEnvs());

describe("systemTool", () => {
  it("finds a tool on the PATH", () => {
    expect(systemTool("sh", "always there")).toMatch(/\/sh$/);
  });

  it("skips with a message outside CI, and fails in CI, when the tool is missing", () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    vi.stubEnv("CI", "");
    expect(systemTool("no-such-tool-here", "apt-get install it")).toBeNull();
    expect(stderr).toHaveBeenCalledWith("skipping the tests that need no-such-tool-here (not installed; apt-get install it)\n");
    stderr.mockRestore();
    vi.stubEnv("CI", "true");
    expect(() => systemTool("no-such-tool-here", "apt-get install it")).toThrow(/not installed, and CI must run the tests that need it: apt-get install it/);
  });
});
