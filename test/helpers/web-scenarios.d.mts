// Types of web-scenarios.mjs (plain JavaScript, so that a browser loads it).

export interface Scenario {
  name: string;
  server?: "ws" | "raw";
  path?: string;
  url?: (urls: Record<string, string>) => string;
  protocols?: string | string[];
  binaryTypes?: string[];
  setup(ws: unknown, log: string[]): void;
}

export const SCENARIO_TIMEOUT_MS: number;
export const SCENARIOS: Scenario[];
export function runScenario(
  WebSocketImpl: unknown,
  urls: Record<string, string>,
  scenario: Scenario,
  binaryType?: string,
): Promise<string[]>;
export function scenarioRuns(): { label: string; scenario: Scenario; binaryType?: string }[];
export function runAll(
  WebSocketImpl: unknown,
  urls: Record<string, string>,
): Promise<Record<string, string[]>>;
