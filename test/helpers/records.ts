/** Cut a flight of whole TLS records into the records (5-byte header + fragment each); a partial record is a test bug. */
export function splitRecords(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    const length = (data[at + 3]! << 8) | data[at + 4]!;
    if (at + 5 + length > data.length) throw new Error('partial record in a flight');
    out.push(data.subarray(at, at + 5 + length));
    at += 5 + length;
  }
  return out;
}
