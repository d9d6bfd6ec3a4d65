// A message (component data) as vae_core.webdecoder.frame writes it: uint32 LE header length, JSON
// header, zero pad to 4 bytes, then a payload (weights, pictures). Shared by the components that take
// one (the decoder, the example pictures of ui/example_hover.py): each module is these files joined.

function unframe(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n)));
  const start = 4 + n + ((4 - ((4 + n) % 4)) % 4);
  return { header, payload: bytes.subarray(start) };
}
