/** Small helpers for addresses shown to people. */
import type { AddressInfo } from "node:net";

/** The host part of a listening address as it goes in a URL: "0.0.0.0", "[::]", "127.0.0.1". */
export function displayHost(addr: AddressInfo | string | null): string {
  if (addr === null || typeof addr === "string") return "localhost";
  return addr.family === "IPv6" || addr.address.includes(":") ? `[${addr.address}]` : addr.address;
}
