/**
 * `koala go build` / `koala go flags`: build a Go program with the koala_go tag and the overlay
 * that patches the standard library of the Go on PATH. Owned by the Go hooks work; the CLI
 * dispatches here.
 */
export interface GoBuildFlags {
  /** e.g. ["-tags", "koala_go,koala_recorder", "-overlay", "/abs/overlay.json"] */
  args: string[];
  overlayPath: string;
  goVersion: string;
}

export async function goFlags(_opts: { cwd?: string; tags?: string[] } = {}): Promise<GoBuildFlags> {
  throw new Error('koala go flags: not implemented yet');
}

export async function goBuild(_argv: string[], _opts: { cwd?: string; tags?: string[] } = {}): Promise<number> {
  throw new Error('koala go build: not implemented yet');
}
