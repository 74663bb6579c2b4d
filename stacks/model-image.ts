import fs from "node:fs";
import path from "node:path";
import { Annotations } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { DockerImageAsset, Platform } from "aws-cdk-lib/aws-ecr-assets";
import { useProject } from "sst/project.js";
import { resnet50V1 } from "../packages/core/src/models.ts";

/** What the model-server image is built with: the ONNX file is fetched and checked at build time. */
export interface CloudModel {
  id: string;
  url: string;
  sha256: string;
}

/**
 * The model the cloud endpoint serves. Its pinned url and sha256 live in core's descriptor, the
 * one place the model server, the store and the handlers (MODEL_ID) also read; to change the
 * model, add or change a descriptor there and point this at it.
 */
export function cloudModel(): CloudModel {
  return { id: resnet50V1.id, url: resnet50V1.source.url, sha256: resnet50V1.source.sha256 };
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
  const directory = path.join(useProject().paths.root, MODEL_SERVER_DIR);
  if (!fs.existsSync(path.join(directory, "dist", "main.mjs"))) {
    // The Dockerfile copies dist/ (the bundled server): without it the image build fails at deploy.
    Annotations.of(scope).addWarningV2(
      "photo-clusters:model-server-bundle",
      `${MODEL_SERVER_DIR}/dist/main.mjs is missing: run \`pnpm --filter @photo-clusters/model-server bundle\` before deploying`,
    );
  }
  const asset = new DockerImageAsset(scope, "ModelServerImage", {
    // Relative to the project root, like Function handlers (sst.config.ts runs bundled from there).
    directory,
    platform: Platform.LINUX_AMD64,
    buildArgs: { MODEL_URL: model.url, MODEL_SHA256: model.sha256, MODEL_ID: model.id },
  });
  return { uri: asset.imageUri, asset };
}
