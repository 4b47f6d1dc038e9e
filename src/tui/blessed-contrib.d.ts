// The slice of blessed-contrib the dashboard uses (the package ships no type declarations).
declare module 'blessed-contrib' {
  import type { Widgets } from 'blessed';

  export interface SparklineOptions extends Widgets.BoxOptions {
    style?: Widgets.Types.TStyle & { titleFg?: string };
  }
  export interface SparklineElement extends Widgets.BoxElement {
    setData(titles: string[], datasets: number[][]): void;
  }
  export function sparkline(options: SparklineOptions): SparklineElement;
}
