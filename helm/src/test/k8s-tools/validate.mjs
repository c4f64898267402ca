// Checks rendered Kubernetes manifests against the API's OpenAPI schemas (kubernetes-models), offline.
// Usage: node validate.mjs < manifests.yaml   (multi-document YAML, e.g. `helm template` output)
// Prints one JSON line per document: {apiVersion, kind, name, result: "valid"|"invalid"|"unknown", errors}.
// A kind without a model here (a custom resource: Strimzi, Prometheus Operator) is "unknown", never "valid":
// the caller decides how to check it. Exits 1 when a document is invalid.
import { readFileSync } from 'node:fs';
import { loadAll } from 'js-yaml';

const documents = loadAll(readFileSync(0, 'utf8')).filter((doc) => doc != null);
let failed = false;
for (const doc of documents) {
  const { apiVersion = '', kind = '' } = doc;
  const report = { apiVersion, kind, name: doc.metadata?.name ?? null, result: 'unknown', errors: [] };
  const Model = await modelOf(apiVersion, kind);
  if (Model) {
    try {
      new Model(doc).validate();
      report.result = 'valid';
    } catch (error) {
      failed = true;
      report.result = 'invalid';
      report.errors = error.errors
        ? error.errors.map((e) => `${e.instancePath || '/'} ${e.message}`)
        : [String(error.message)];
    }
  }
  console.log(JSON.stringify(report));
}
process.exit(failed ? 1 : 0);

async function modelOf(apiVersion, kind) {
  try {
    return (await import(`kubernetes-models/${apiVersion}`))[kind];
  } catch (error) {
    if (error.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || error.code === 'ERR_MODULE_NOT_FOUND') {
      return undefined;
    }
    throw error;
  }
}
