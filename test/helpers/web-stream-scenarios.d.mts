// Types of web-stream-scenarios.mjs (plain JavaScript, so that a browser loads it).

export function streamScenarios(
  api: { WebSocketStream: unknown; WebSocketError: unknown },
  urls: Record<string, string>,
): Promise<Record<string, string[]>>;
