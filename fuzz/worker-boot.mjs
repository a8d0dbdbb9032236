// Worker threads don't inherit the tsx loader of the main thread (Node 20):
// register it here, then load the TypeScript worker.
import { register } from "tsx/esm/api";

register();
await import(new URL("./worker.ts", import.meta.url).href);
