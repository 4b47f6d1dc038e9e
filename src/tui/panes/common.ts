/**
 * What every pane shares: the box label and the colour of a severity.
 */
import { clip, escapeTags } from '../format';
import type { Severity } from '../rows';

export const SEVERITY_STYLE: Record<Severity, string> = { bad: 'red-fg', warn: 'yellow-fg', info: 'cyan-fg' };

/** A box label: clipped so it never wraps into the pane (blessed wraps long labels). */
export function paneLabel(text: string, width: number): string {
  return escapeTags(` ${clip(text, Math.max(1, width - 4))} `);
}
