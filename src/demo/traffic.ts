/**
 * Traffic generator run by `netscope demo` inside a lab namespace (`ip netns exec NS node traffic.js MODE …`).
 * It exits when its stdin closes, so it never outlives the demo that started it (even if the demo is killed).
 *
 *   serve PORT [PORT…]                 accept TCP connections and discard what arrives
 *   stream HOST PORT BYTES_PER_SEC     keep a TCP connection sending at about that rate; reconnect every 20 s
 *   connect HOST PORT EVERY_MS         try to connect again and again (a blocked one shows as failed SYNs)
 */
import net from 'net';

const RECONNECT_MS = 1000;
const STREAM_SESSION_MS = 20_000;
const CONNECT_TIMEOUT_MS = 3000;

function serve(ports: number[]): void {
  for (const port of ports) {
    const server = net.createServer((sock) => {
      sock.on('data', () => undefined);
      sock.on('error', () => sock.destroy());
    });
    server.on('error', (err) => {
      process.stderr.write(`traffic: listen on ${port}: ${err.message}\n`);
      process.exit(1);
    });
    server.listen(port, '0.0.0.0');
  }
}

function stream(host: string, port: number, rate: number): void {
  const tickMs = 50;
  const chunk = Buffer.alloc(Math.max(1, Math.round((rate * tickMs) / 1000)), 0x61);
  const session = (): void => {
    const sock = net.connect({ host, port });
    let timer: NodeJS.Timeout | undefined;
    let end: NodeJS.Timeout | undefined;
    const again = (): void => {
      if (timer) clearInterval(timer);
      if (end) clearTimeout(end);
      timer = undefined;
      setTimeout(session, RECONNECT_MS);
    };
    sock.on('connect', () => {
      timer = setInterval(() => {
        if (sock.writableLength < chunk.length * 4) sock.write(chunk);
      }, tickMs);
      end = setTimeout(() => sock.end(), STREAM_SESSION_MS);
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', again);
  };
  // The server starts at the same moment: give it a head start rather than show a refused connection.
  setTimeout(session, RECONNECT_MS);
}

function connectLoop(host: string, port: number, everyMs: number): void {
  const attempt = (): void => {
    const sock = net.connect({ host, port });
    sock.setTimeout(CONNECT_TIMEOUT_MS, () => sock.destroy());
    sock.on('connect', () => sock.end());
    sock.on('error', () => sock.destroy());
    sock.on('close', () => setTimeout(attempt, everyMs));
  };
  attempt();
}

function main(argv: string[]): void {
  const [mode, ...args] = argv;
  const num = (s: string | undefined, what: string): number => {
    const n = Number(s);
    if (!Number.isFinite(n) || n <= 0) {
      process.stderr.write(`traffic: ${what} must be a positive number (got ${JSON.stringify(s)})\n`);
      process.exit(2);
    }
    return n;
  };
  switch (mode) {
    case 'serve':
      serve(args.map((a) => num(a, 'PORT')));
      break;
    case 'stream':
      stream(args[0], num(args[1], 'PORT'), num(args[2], 'BYTES_PER_SEC'));
      break;
    case 'connect':
      connectLoop(args[0], num(args[1], 'PORT'), num(args[2], 'EVERY_MS'));
      break;
    default:
      process.stderr.write('traffic: MODE is serve, stream or connect\n');
      process.exit(2);
  }
  // The demo holds our stdin: when it goes away (quit, crash, kill -9), so do we.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  process.on('SIGTERM', () => process.exit(0));
}

main(process.argv.slice(2));
