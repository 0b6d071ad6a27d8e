import { formatBytes, formatDate, formatShape, progressBar, renderTable } from '../../src/format';

describe('format', () => {
  it('sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(578966)).toBe('565 KiB');
    expect(formatBytes(10 * 1024 ** 3)).toBe('10.0 GiB');
  });

  it('tables padded to the widest cell without trailing spaces', () => {
    expect(
      renderTable(
        ['A', 'LONGER'],
        [
          ['wide cell', 'x'],
          ['y', ''],
        ],
      ),
    ).toBe(['A          LONGER', 'wide cell  x', 'y'].join('\n'));
  });

  it('shapes, dates and bars', () => {
    expect(formatShape([-1, 3, 48, 192])).toBe('[-1, 3, 48, 192]');
    expect(formatShape([])).toBe('[]');
    expect(formatDate(new Date('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T03:04:05Z');
    expect(progressBar(0.5, 10)).toBe('[#####-----]  50%');
    expect(progressBar(2, 4)).toBe('[####] 100%');
    expect(progressBar(Number.NaN, 4)).toBe('[----]   0%');
  });
});
