// One headline figure with its label; `testid` names it for the browser tests.
export function Tile({ label, value, testid }: { label: string; value: string; testid?: string }) {
  return (
    <div className="tile">
      <div className="tile-label">{label}</div>
      <div className="tile-value" data-testid={testid ? `tile-${testid}` : undefined}>
        {value}
      </div>
    </div>
  );
}
