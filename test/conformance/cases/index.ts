/**
 * Every conformance case, in report order.
 *
 * @module
 */

import type { Role } from "../fuzzer.ts";
import type { ConformanceCase } from "./case.ts";
import { closeCases } from "./close.ts";
import { deflateCases } from "./deflate.ts";
import { fragmentationCases } from "./fragmentation.ts";
import { framingCases } from "./framing.ts";
import { autoFragmentationCases, limitCases } from "./limits.ts";
import { opcodeCases } from "./opcodes.ts";
import { pingCases } from "./pings.ts";
import { reservedBitCases } from "./reserved-bits.ts";
import { utf8Cases } from "./utf8.ts";

export const ALL_CASES: readonly ConformanceCase[] = [
  ...framingCases,
  ...pingCases,
  ...reservedBitCases,
  ...opcodeCases,
  ...fragmentationCases,
  ...utf8Cases,
  ...closeCases,
  ...limitCases,
  ...autoFragmentationCases,
  ...deflateCases,
];

/** The cases the fuzzer plays in `role` ("client" tests a server). */
export function casesFor(role: Role): ConformanceCase[] {
  return ALL_CASES.filter((c) => {
    if (c.fuzzerRoles && !c.fuzzerRoles.includes(role)) return false;
    // A permessage-deflate case only applies to the roles it is set up for.
    if (c.serverRole || c.clientRole)
      return role === "client" ? c.serverRole !== undefined : c.clientRole !== undefined;
    return true;
  });
}

const ids = new Set<string>();
for (const c of ALL_CASES) {
  if (ids.has(c.id)) throw new Error(`duplicate case id ${c.id}`);
  ids.add(c.id);
}
