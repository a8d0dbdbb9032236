/**
 * Chat rooms across processes and machines: run it several times (on one
 * machine or many) on the same Redis, and `redisBackplane()` carries each
 * room's messages between them. The `redis` package is the client here;
 * `ioredis` works the same (`new Redis(url)`).
 *
 *   REDIS_URL=redis://127.0.0.1:6379 PORT=8771 npx tsx examples/chat-redis.ts
 *   REDIS_URL=redis://127.0.0.1:6379 PORT=8772 npx tsx examples/chat-redis.ts
 *   npx tsx examples/echo-client.ts "ws://127.0.0.1:8771/lobby?name=ada" hi
 *
 * In your project, import from "websockets-ts" and "websockets-ts/redis"
 * instead of "../src/index.ts" and "../src/redis.ts".
 */
import { createClient } from "redis";
import { serve } from "../src/index.ts";
import { redisBackplane } from "../src/redis.ts";
import { chatRooms } from "./chat-rooms.ts";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8771);
const client = createClient({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" });

// serve() connects the client, and rejects if Redis can't be reached.
const server = await serve(chatRooms(`pid ${process.pid}`), {
  host,
  port,
  backplane: redisBackplane({ client }),
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    await server.close();
    // The client is ours: the backplane closed only what it created.
    client.destroy();
  });
}

console.log(`chat server listening on ws://${host}:${server.port}`);
