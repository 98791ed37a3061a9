// Costs travel as exact decimal strings ("0.000051"); summing them as floats
// would drift, so they are added as integers of 1e-12 USD (the reports' precision).

const SCALE = 12;
const UNIT = 10n ** BigInt(SCALE);

export function toPico(text: string): bigint {
  const value = text.trim();
  if (value === "") return 0n;
  const match = /^(-?)(\d*)(?:\.(\d*))?$/.exec(value);
  if (match === null) throw new Error(`not a decimal: ${text}`);
  const [, sign, whole = "", frac = ""] = match;
  const digits = BigInt(whole || "0") * UNIT + BigInt((frac + "0".repeat(SCALE)).slice(0, SCALE) || "0");
  return sign === "-" ? -digits : digits;
}

export function fromPico(value: bigint): string {
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const whole = abs / UNIT;
  const frac = (abs % UNIT).toString().padStart(SCALE, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${frac ? `.${frac}` : ""}`;
}

export function addDecimals(values: Iterable<string>): string {
  let total = 0n;
  for (const v of values) total += toPico(v);
  return fromPico(total);
}

/** Dollars for display: cents for large amounts, significant digits for tiny ones. */
export function formatUsd(text: string | number): string {
  const n = typeof text === "number" ? text : Number(text || 0);
  if (n === 0) return "$0";
  if (Math.abs(n) >= 1) return `$${n.toFixed(2)}`;
  return `$${n.toPrecision(3)}`;
}
