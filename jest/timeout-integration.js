// Jest 30 reads testTimeout only globally, not per project: the slower tiers set theirs here.
jest.setTimeout(120_000);
