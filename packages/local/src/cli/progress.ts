/**
 * A progress bar on stderr: redrawn in place on a terminal, a line every 10% elsewhere (CI, logs).
 * With no total (a listing of unknown length) it counts and shows the rate, without a bar.
 */
export function progressBar(total: number | undefined, label: string, stream: NodeJS.WriteStream = process.stderr) {
  const started = performance.now();
  let lastDecile = -1;
  const render = (done: number, extra = "") => {
    const rate = done / Math.max((performance.now() - started) / 1000, 1e-3);
    const width = 30;
    const filled = !total ? width : Math.round((done / total) * width);
    const bar = total === undefined ? `${done}` : `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}`;
    const line = `${label} ${bar} ${rate.toFixed(1)}/s${extra ? ` ${extra}` : ""}`;
    if (stream.isTTY) stream.write(`\r${line}\x1b[K`);
    else {
      const decile = total === undefined ? Math.floor(Math.log2(done + 1)) : total === 0 ? 10 : Math.floor((done / total) * 10);
      if (decile !== lastDecile) stream.write(`${line}\n`);
      lastDecile = decile;
    }
  };
  return {
    update: render,
    done(done: number, extra = "") {
      if (total === undefined || done < total || extra) lastDecile = -1;
      render(done, extra);
      if (stream.isTTY) stream.write("\n");
    },
  };
}
