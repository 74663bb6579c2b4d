/**
 * Model descriptors: everything the model server, the store and the clustering need to know
 * about one embedding model. Vectors of different model ids are never compared.
 */
export interface Preprocessing {
  /** Resize so the shorter side is this many pixels (bilinear), then center-crop to `size`. */
  resizeShorter: number;
  size: number;
  mean: [number, number, number];
  std: [number, number, number];
  layout: "NCHW";
}

export interface SimilarityDefaults {
  /** Default `threshold` of the clusters API for this model. */
  threshold: number;
  /** Pairs at or above this similarity are kept in the stored neighbour graph. */
  graphFloor: number;
  /** A cluster's band by its minimum (or linkage) similarity: >= high → "high", >= medium → "medium", else "low". */
  bands: { medium: number; high: number };
  /**
   * Monotone piecewise-linear map from raw cosine to the similarity the API speaks (threshold,
   * min/mean similarity, bands). `graphFloor` stays in raw cosine. Absent: the identity.
   */
  calibration?: { cosine: readonly number[]; similarity: readonly number[] };
}

export interface ModelDescriptor {
  id: string;
  dimension: number;
  /** Where the ONNX file comes from when no local path is given, and its pinned digest. */
  source: { url: string; sha256: string; bytes?: number };
  input: { name: string; preprocessing: Preprocessing };
  /** The graph tensor holding the features; exposed as an extra graph output when it is internal. */
  feature: { tensor: string; shape: "NCHW-mean" | "NC" | "NC11" };
  defaults: SimilarityDefaults;
  /**
   * Applied by the model server to each unit-norm embedding before it is returned: `center` (a
   * mean fitted on labelled photos) is subtracted and the row normalised again. Vectors so changed
   * are another model's: a descriptor with post-processing has an id of its own.
   */
  postprocess?: { center: readonly number[] };
}

const imagenet: Pick<Preprocessing, "mean" | "std" | "layout"> = {
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  layout: "NCHW",
};

export const mobilenetV2Int8: ModelDescriptor = {
  id: "mobilenetv2-12-int8",
  dimension: 1280,
  source: {
    url: "https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx",
    sha256: "cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f",
    bytes: 3_655_033,
  },
  input: { name: "input", preprocessing: { resizeShorter: 256, size: 224, ...imagenet } },
  feature: { tensor: "627", shape: "NCHW-mean" },
  // `photo-clusters calibrate ../shared/data/dev-photos` (docs/similarity.md). It fits a floor of 0.73;
  // 0.75 is kept (same F1 on the dev photos), as a new floor makes every stored graph be rebuilt.
  defaults: {
    threshold: 0.85,
    graphFloor: 0.75,
    bands: { medium: 0.85, high: 0.92 },
    calibration: { cosine: [0, 0.785, 0.8225, 0.86, 1], similarity: [0, 0.8, 0.85, 0.9, 1] },
  },
};

/**
 * ResNet-50 v1 fp32 from the ONNX model zoo (MXNet export, opset 12), the cloud default.
 * Not available on the development machines; the container image fetches it at build time.
 *
 * Provenance of the pin (not verified by downloading: there is no network here):
 * - url: the zoo file at onnx/models commit 652f4e4af7975c8e7a505c4b6e0f8ac72d8260ea, so a
 *   later re-export on `main` cannot change the bytes under us.
 * - sha256 and bytes: the git-lfs pointer stored at that commit and path (an LFS `oid sha256`
 *   is the sha256 of the file's content). The image build's `sha256sum -c` is the real check.
 * - input "data" [N,3,224,224]; logits "resnetv17_dense0_fwd"; "resnetv17_pool1_fwd" is the
 *   GlobalAveragePool output [N,2048,1,1] feeding the classifier (graph dumps of this file in
 *   public tools; confirm with `createEmbedder`, which fails if the tensor is missing).
 */
export const resnet50V1: ModelDescriptor = {
  id: "resnet50-v1-12",
  dimension: 2048,
  source: {
    url: "https://github.com/onnx/models/raw/652f4e4af7975c8e7a505c4b6e0f8ac72d8260ea/vision/classification/resnet/model/resnet50-v1-12.onnx",
    sha256: "ab65bdc02c5b3123eb3cdf6dac01742438517d8635d4f233913b2be1c70db3b6",
    bytes: 102_576_419,
  },
  input: { name: "data", preprocessing: { resizeShorter: 256, size: 224, ...imagenet } },
  feature: { tensor: "resnetv17_pool1_fwd", shape: "NC11" },
  // Not calibrated: no ResNet-50 vectors exist here yet (owned by similarity). Raw cosine (no
  // calibration) until measured; the floor of MobileNetV2, since a lower one makes the graph of
  // ReLU features dense (MobileNetV2 at 0.6: 8% of all pairs).
  defaults: { threshold: 0.85, graphFloor: 0.75, bands: { medium: 0.85, high: 0.92 } },
};

export const MODELS: Record<string, ModelDescriptor> = {
  [mobilenetV2Int8.id]: mobilenetV2Int8,
  [resnet50V1.id]: resnet50V1,
};

export function modelById(id: string): ModelDescriptor {
  const model = MODELS[id];
  if (!model) throw new Error(`unknown model "${id}"; known: ${Object.keys(MODELS).join(", ")}`);
  return model;
}
