// The stream time burned into a pushed picture and read back, for the live test and bench/live:
// 16 black/white boxes across the top of a 640x360 frame give the push's stream time in tenths
// of a second (ffmpeg's `drawbox` with `enable` expressions; no font needed), readable after
// H.264 at any rung because each box is 30 px wide.
import { spawn } from 'node:child_process';

export const BITS = 16;
export const WIDTH = 640;
export const HEIGHT = 360;
export const boxes = Array.from({ length: BITS }, (_, i) => ({ x: 16 + i * 38, y: 12, size: 30 }));

const clockFilter = [
  `drawbox=x=0:y=0:w=${WIDTH}:h=54:color=black:t=fill`,
  ...boxes.map(({ x, y, size }, i) =>
    `drawbox=x=${x}:y=${y}:w=${size}:h=${size}:color=white:t=fill:enable='mod(floor(t*10/${2 ** i}),2)'`),
].join(',');

/// ffmpeg pushing the clock picture and a tone to `url` for `seconds`; `started` is when it was
/// spawned (the picture's t = 0 is a little after, so latencies read are slightly high).
export function push(url, seconds) {
  const child = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${WIDTH}x${HEIGHT}:rate=25,${clockFilter}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-f', 'flv', url,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return { child, started: Date.now(), exited };
}

/// The stream time (seconds) from a frame's luma or RGB samples: `brightness(x, y)` in 0–255.
export function decode(brightness) {
  let value = 0;
  boxes.forEach(({ x, y, size }, i) => {
    if (brightness(x + size / 2, y + size / 2) > 128) value += 2 ** i;
  });
  return value / 10;
}

/// The stream time the live page's `<video>` shows now, or null before it has a frame.
export function readPageClock(page) {
  return page.evaluate(({ boxes, width, height }) => {
    const video = document.querySelector('video.live-video');
    if (!video || video.readyState < 2 || !video.videoWidth) return null;
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    context.drawImage(video, 0, 0, width, height);
    let value = 0;
    boxes.forEach(({ x, y, size }, i) => {
      const [r, g, b] = context.getImageData(x + size / 2, y + size / 2, 1, 1).data;
      if ((r + g + b) / 3 > 128) value += 2 ** i;
    });
    return value / 10;
  }, { boxes, width: WIDTH, height: HEIGHT });
}

/// The median of the latencies (seconds) read `samples` times, `gapMs` apart, by `read()`
/// (the stream time shown now, or null) for a push spawned at `started`.
export async function medianLatency(read, started, samples = 7, gapMs = 700) {
  const latencies = [];
  for (let i = 0; i < samples; i += 1) {
    const shown = await read();
    if (shown !== null && shown > 0) latencies.push((Date.now() - started) / 1000 - shown);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  latencies.sort((a, b) => a - b);
  return { median: latencies[Math.floor(latencies.length / 2)], samples: latencies };
}
