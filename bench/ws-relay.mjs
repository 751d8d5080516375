// The floor for the relay benchmarks: a bare Node `ws` broadcast server. Every text frame a socket
// sends goes to every other socket on the same URL path. Listens on 127.0.0.1 only.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2]);
const rooms = new Map();
const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
wss.on('connection', (ws, req) => {
  const path = req.url ?? '/';
  let room = rooms.get(path);
  if (!room) rooms.set(path, (room = new Set()));
  room.add(ws);
  ws.on('message', (data, isBinary) => {
    for (const other of room) if (other !== ws) other.send(data, { binary: isBinary });
  });
  ws.on('close', () => room.delete(ws));
  ws.on('error', () => room.delete(ws));
});
http.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
