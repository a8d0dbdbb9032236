/**
 * Extensions: the interface (RFC 6455 §9) and permessage-deflate (RFC 7692).
 *
 * @module
 */

export type {
  ClientExtensionFactory,
  Extension,
  ExtensionParameter,
  ServerExtensionFactory,
} from "./base.ts";
export {
  ClientPerMessageDeflateFactory,
  type ClientPerMessageDeflateOptions,
  type CompressSettings,
  enableClientPermessageDeflate,
  enableServerPermessageDeflate,
  isPermessageDeflateSupported,
  PERMESSAGE_DEFLATE,
  PerMessageDeflate,
  type PerMessageDeflateConfig,
  ServerPerMessageDeflateFactory,
  type ServerPerMessageDeflateOptions,
} from "./permessage-deflate.ts";
