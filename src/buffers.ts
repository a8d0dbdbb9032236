/**
 * Node's own Buffer class, for the views the frame serializer and parser
 * create on their hot paths.
 *
 * @module
 */

/**
 * Node's own Buffer class (`Buffer[Symbol.species]`): constructing a view
 * with it skips the species lookup of `subarray`, on the hot path.
 * @internal
 */
export const FastBuffer = (
  Buffer as unknown as {
    [Symbol.species]: new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer;
  }
)[Symbol.species];
