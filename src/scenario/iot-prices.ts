/**
 * AWS IoT Core prices used by the cost estimate (`iotload validate --cost`), as data with its source
 * and date. Only the two meters a load test moves are here: messaging (per million messages, tiered
 * by monthly volume, metered in 5 KB increments) and connectivity (per million connection-minutes,
 * metered in 1-minute increments). Source: https://aws.amazon.com/iot-core/pricing/ (rates) and
 * https://aws.amazon.com/iot-core/pricing/additional-details/ (what is metered).
 *
 * Prices change and differ by region: a region missing here is estimated with us-east-1's rates and
 * the estimate says so. Override the whole table with `--prices FILE` (JSON or YAML of this shape).
 */
import { z } from "zod";

export interface PriceTier {
  /** Messages per month up to which this price applies (cumulative); absent for the last tier. */
  upToMessages?: number;
  /** USD per million messages. */
  perMillion: number;
}

export interface RegionPrices {
  /** USD per million connection-minutes. */
  connectivityPerMillionMinutes: number;
  messaging: PriceTier[];
}

export interface IotPriceTable {
  /** When these prices were read from the source (YYYY-MM-DD). */
  asOf: string;
  source: string;
  currency: "USD";
  /** Bytes in one metered message ("5 KB"; AWS IoT's KB are 1024 bytes, as in its 128 KB payload limit). */
  messageUnitBytes: number;
  regions: Record<string, RegionPrices>;
}

const STANDARD: RegionPrices = {
  connectivityPerMillionMinutes: 0.08,
  messaging: [
    { upToMessages: 1_000_000_000, perMillion: 1.0 },
    { upToMessages: 5_000_000_000, perMillion: 0.8 },
    { perMillion: 0.7 },
  ],
};

/**
 * us-east-1 / us-east-2 / us-west-2 / eu-west-1: the rates of AWS's own pricing examples ($0.08 per
 * million connection-minutes, $1.00 per million messages for the first billion, then $0.80 and $0.70);
 * ap-northeast-1 (Tokyo): $0.096 and $1.20 / $0.96 / $0.84.
 */
export const IOT_PRICES: IotPriceTable = {
  asOf: "2026-11-30",
  source: "https://aws.amazon.com/iot-core/pricing/",
  currency: "USD",
  messageUnitBytes: 5_120,
  regions: {
    "us-east-1": STANDARD,
    "us-east-2": STANDARD,
    "us-west-2": STANDARD,
    "eu-west-1": STANDARD,
    "ap-northeast-1": {
      connectivityPerMillionMinutes: 0.096,
      messaging: [
        { upToMessages: 1_000_000_000, perMillion: 1.2 },
        { upToMessages: 5_000_000_000, perMillion: 0.96 },
        { perMillion: 0.84 },
      ],
    },
  },
};

/** The region whose prices stand in for a region missing from the table. */
export const FALLBACK_PRICE_REGION = "us-east-1";

const tier = z.strictObject({
  upToMessages: z.number().positive().optional(),
  perMillion: z.number().nonnegative(),
});

/** Schema of a `--prices FILE`. */
export const priceTableSchema = z.strictObject({
  asOf: z.string().min(1),
  source: z.string().min(1),
  currency: z.literal("USD"),
  messageUnitBytes: z.number().int().positive().default(5_120),
  regions: z.record(
    z.string(),
    z.strictObject({
      connectivityPerMillionMinutes: z.number().nonnegative(),
      messaging: z
        .array(tier)
        .min(1)
        .refine((ts) => ts.slice(0, -1).every((t) => t.upToMessages !== undefined), {
          message: "every tier but the last needs upToMessages",
        }),
    }),
  ),
});
