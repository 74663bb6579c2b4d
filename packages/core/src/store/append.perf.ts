/** Prints the append figure: `pnpm tsx packages/core/src/store/append.perf.ts [n]`. */
import { benchAppend } from "./bench-append.ts";

const n = Number(process.argv[2] ?? 2000);
const result = await benchAppend({ n, appends: 100 });
console.log(JSON.stringify(result, null, 2));
