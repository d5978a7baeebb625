// The hand-driven netfront now lives in harness/xen/fake-frontend.ts (fuzz targets use it too).
export * from "../../harness/xen/fake-frontend.ts";
