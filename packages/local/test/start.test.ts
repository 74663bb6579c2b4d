import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const START = join(import.meta.dirname, "../src/start.ts");

/** `pnpm start` as a child process: its stderr so far, and its exit code once it ends. */
function spawnStart(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", START], {
    env: { ...process.env, NODE_NO_WARNINGS: "1", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  return { child, exited, stderr: () => stderr };
}

async function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const run = spawnStart(env);
  const timer = setTimeout(() => run.child.kill("SIGKILL"), 30_000);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, stderr: run.stderr() };
}

/** The pids a process has started (Linux's /proc). */
async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return text.trim().split(/\s+/).filter(Boolean).map(Number);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("pnpm start", () => {
  it("stops at once on SIGTERM while the model is still loading, leaving no model server behind", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "start-signal-"));
    const { child: parent, exited, stderr } = spawnStart({ PORT: "0", EMULATOR_PORT: "0", DATA_DIR: dataDir });
    let server: number | undefined;
    for (let i = 0; i < 300 && server === undefined; i++) {
      [server] = await childrenOf(parent.pid!);
      if (server === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    expect(server, stderr()).toBeDefined();

    try {
      parent.kill("SIGTERM");
      const code = await exited;
      for (let i = 0; i < 300 && alive(server!); i++) await new Promise((r) => setTimeout(r, 50));

      expect(code).toBe(0);
      expect(stderr()).not.toContain("photo-clusters is running");
      expect(alive(server!)).toBe(false);
    } finally {
      parent.kill("SIGKILL");
      if (server !== undefined && alive(server)) process.kill(server, "SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it("gives up with exit code 1, saying why, when its model server keeps dying", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "start-giveup-"));
    const { child: parent, exited, stderr } = spawnStart({ PORT: "0", EMULATOR_PORT: "0", DATA_DIR: dataDir });
    let done = false;
    void exited.then(() => (done = true));
    try {
      for (let i = 0; i < 600 && !stderr().includes("photo-clusters is running"); i++) await new Promise((r) => setTimeout(r, 100));
      expect(stderr()).toContain("photo-clusters is running");
      // Kill every model server it starts, as soon as it is there, until the runtime gives up.
      const killed = new Set<number>();
      for (let i = 0; i < 1200 && !done; i++) {
        for (const pid of await childrenOf(parent.pid!)) {
          if (!killed.has(pid)) {
            killed.add(pid);
            process.kill(pid, "SIGKILL");
          }
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const code = await exited;

      expect(code).toBe(1);
      expect(stderr()).toMatch(/the model server failed 6 times within 60 s \(last: .*\); giving up/);
      expect(killed.size).toBe(6);
    } finally {
      parent.kill("SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it("exits non-zero and names the variable when its port is taken", async () => {
    const blocker = createServer().listen(0, "127.0.0.1");
    await new Promise((r) => blocker.once("listening", r));
    const port = (blocker.address() as { port: number }).port;
    const { code, stderr } = await start({ PORT: String(port), EMULATOR_PORT: "0" });
    blocker.close();
    expect(code).toBe(1);
    expect(stderr).toContain(`port ${port} on 127.0.0.1 is already in use; stop what uses it or set PORT to another port`);
  });

  it("exits non-zero with a clear message when the model file is missing", async () => {
    const { code, stderr } = await start({ PORT: "0", EMULATOR_PORT: "0", MODEL_PATH: "/nonexistent/model.onnx" });
    expect(code).toBe(1);
    expect(stderr).toMatch(/model file \/nonexistent\/model.onnx does not exist/);
  });

  it("refuses a malformed setting before starting anything", async () => {
    const { code, stderr } = await start({ PORT: "eighty" });
    expect(code).toBe(1);
    expect(stderr).toContain('PORT must be an integer from 0 to 65535, not "eighty"');
  });

  it("names the known models, without a stack trace, when MODEL_ID is unknown", async () => {
    const { code, stderr } = await start({ MODEL_ID: "resnet-9000" });
    expect(code).toBe(1);
    expect(stderr.trim()).toBe('photo-clusters: MODEL_ID: unknown model "resnet-9000"; known: mobilenetv2-12-int8, resnet50-v1-12');
  });
});
