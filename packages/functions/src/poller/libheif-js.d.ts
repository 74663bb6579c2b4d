// libheif-js ships types for its Emscripten module but not for this entry point; heic-decoder.ts
// names the few functions it calls.
declare module "libheif-js/wasm-bundle" {
  const libheif: unknown;
  export default libheif;
}
