/**
 * A system tool some tests need (a browser, the AWS CLI, heif-enc): its path, or null. Outside CI a
 * missing tool skips those tests, saying so and what to install, so `pnpm test` passes on a fresh
 * machine; in CI (CI set, as .ci/run sets it) a missing tool fails the test file, so CI never passes by
 * skipping what it should have run.
 */
import { execFileSync } from "node:child_process";

export function systemTool(command: string, install: string): string | null {
  let path = "";
  try {
    path = execFileSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).trim();
  } catch {
    // not on the PATH
  }
  if (path) return path;
  if (process.env.CI) throw new Error(`${command} is not installed, and CI must run the tests that need it: ${install}`);
  process.stderr.write(`skipping the tests that need ${command} (not installed; ${install})\n`);
  return null;
}
