import path from "node:path";
import { Construct } from "constructs";
import { DockerImageAsset, Platform } from "aws-cdk-lib/aws-ecr-assets";
import { useProject } from "sst/project.js";
import { MODELS } from "../packages/core/src/models.ts";

/** What the model-server image is built with: the ONNX file is fetched and checked at build time. */
export interface CloudModel {
  id: string;
  url: string;
  sha256: string;
}

/**
 * Fallback until packages/core/src/models.ts carries a ResNet descriptor.
 * TODO(models): delete this once core has the ResNet-50 descriptor; `cloudModel()` picks it up.
 * The digest is the Git LFS object id of this file in the ONNX model zoo (LFS ids are sha256).
 */
const RESNET50_FALLBACK: CloudModel = {
  id: "resnet50-v1-12-int8",
  url: "https://github.com/onnx/models/raw/main/validated/vision/classification/resnet/model/resnet50-v1-12-int8.onnx",
  sha256: "c234f30975989788b4405f25253275aae247ab6dbdd34aaa69ab0a59ff76f6d0",
};

/** The model the cloud endpoint serves: core's ResNet descriptor if there is one, else the fallback. */
export function cloudModel(): CloudModel {
  const resnet = Object.values(MODELS).find((m) => m.id.startsWith("resnet"));
  if (resnet) return { id: resnet.id, url: resnet.source.url, sha256: resnet.source.sha256 };
  return RESNET50_FALLBACK;
}

/** The build context, whose Dockerfile takes MODEL_URL, MODEL_SHA256 and MODEL_ID. */
export const MODEL_SERVER_DIR = "packages/model-server";

/**
 * The container image URI for the SageMaker model: a prebuilt image named by the `modelImageUri`
 * context value, or an image asset built from packages/model-server at deploy time.
 */
export function modelImageUri(scope: Construct, model: CloudModel): { uri: string; asset?: DockerImageAsset } {
  const prebuilt = scope.node.tryGetContext("modelImageUri");
  if (typeof prebuilt === "string" && prebuilt.length > 0) return { uri: prebuilt };
  const asset = new DockerImageAsset(scope, "ModelServerImage", {
    // Relative to the project root, like Function handlers (sst.config.ts runs bundled from there).
    directory: path.join(useProject().paths.root, MODEL_SERVER_DIR),
    platform: Platform.LINUX_AMD64,
    buildArgs: { MODEL_URL: model.url, MODEL_SHA256: model.sha256, MODEL_ID: model.id },
  });
  return { uri: asset.imageUri, asset };
}
