import sharp from 'sharp';

/** A PNG of black text on white (DejaVu Sans through pango), padded a little. */
export async function textPng(text: string): Promise<Buffer> {
  return sharp({
    text: {
      text: `<span foreground="black">${text}</span>`,
      font: 'DejaVu Sans',
      dpi: 200,
      rgba: true,
    },
  })
    .flatten({ background: '#ffffff' })
    .extend({ top: 6, bottom: 6, left: 6, right: 6, background: '#ffffff' })
    .png()
    .toBuffer();
}

export async function rotate180(png: Buffer): Promise<Buffer> {
  return sharp(png).rotate(180).png().toBuffer();
}

/** A plain image of one colour. */
export async function solidPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 40, g: 120, b: 200 } } })
    .png()
    .toBuffer();
}

/** The PaddleOCR direction classifier's preprocessing, as environment.json. */
export const PADDLE_CLS_ENVIRONMENT = {
  preprocessing: {
    size: { width: 192, height: 48 },
    resize: 'fit-pad',
    padColor: 127.5,
    scale: 1 / 255,
    mean: 0.5,
    std: 0.5,
    channelOrder: 'RGB',
  },
  postprocessing: { softmax: false },
};
