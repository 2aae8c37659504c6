/**
 * What the time series count, field by field (issue 17), and how an attempt's failure class maps
 * to the outcome kinds the dashboard and `/keyrelay/metrics` show.
 */
import type { FailureClass } from '../types';
import { HIST_BUCKETS } from './seriesTier';

/** Outcome kinds of an upstream attempt, in the order their counts are stored. */
export const OUTCOMES = ['ok', '429', 'invalid', 'discarded', '5xx', 'network', 'cancelled', 'other'] as const;
export type OutcomeKind = (typeof OUTCOMES)[number];

/** The same kinds as Prometheus label values (`outcome="rate_limited"`). */
export const OUTCOME_LABELS: Readonly<Record<OutcomeKind, string>> = {
  ok: 'ok',
  '429': 'rate_limited',
  invalid: 'invalid',
  discarded: 'discarded',
  '5xx': 'server_error',
  network: 'network',
  cancelled: 'client_cancelled',
  other: 'other',
};

/**
 * The outcome index of a failure class: 429 → rate limited, 401/403 → invalid, 402/quota →
 * discarded, 5xx → 5xx, network and timeouts → network, the client went away → cancelled; the
 * client's own 4xx and KeyRelay's own refusals → other.
 */
export function outcomeOf(failure: FailureClass | undefined): number {
  switch (failure) {
    case undefined:
      return 0;
    case 'rate-limit':
      return 1;
    case 'auth':
      return 2;
    case 'quota':
      return 3;
    case 'server':
      return 4;
    case 'network':
    case 'timeout':
      return 5;
    case 'aborted':
      return 6;
    default:
      return 7;
  }
}

/** Per provider, per minute (24 h): client requests, attempts by outcome, usage, latency histograms. */
export const P = {
  requests: 0,
  requestErrors: 1,
  attempts: 2,
  outcome: 3,
  tokensIn: 3 + OUTCOMES.length,
  tokensOut: 4 + OUTCOMES.length,
  /** Micro-USD of attempts whose price was known. */
  cost: 5 + OUTCOMES.length,
  /** Attempts whose price was known (cost stays "unknown" while this is 0). */
  priced: 6 + OUTCOMES.length,
  ttfb: 7 + OUTCOMES.length,
  total: 7 + OUTCOMES.length + HIST_BUCKETS,
  count: 7 + OUTCOMES.length + 2 * HIST_BUCKETS,
} as const;

/** Per provider, per local day (35 days), in doubles: the day's totals. */
export const D = {
  requests: 0,
  requestErrors: 1,
  attempts: 2,
  ok: 3,
  rateLimited: 4,
  tokensIn: 5,
  tokensOut: 6,
  cost: 7,
  priced: 8,
  count: 9,
} as const;

/** Per key, per hour (24 h) for every key and per minute (24 h) for the busiest. */
export const K = {
  attempts: 0,
  ok: 1,
  rateLimited: 2,
  /** Input and output tokens together (the key's totals in Stats keep them apart). */
  tokens: 3,
  cost: 4,
  count: 5,
} as const;

/**
 * Per provider since the start (or the last reset), for `/keyrelay/metrics`: cumulative latency
 * histograms with their sums and counts, tokens, cost.
 */
export const T = {
  ttfb: 0,
  total: HIST_BUCKETS,
  ttfbSumMs: 2 * HIST_BUCKETS,
  ttfbCount: 2 * HIST_BUCKETS + 1,
  totalSumMs: 2 * HIST_BUCKETS + 2,
  totalCount: 2 * HIST_BUCKETS + 3,
  count: 2 * HIST_BUCKETS + 4,
} as const;

/** Per key since the start (or the last reset): cost (micro-USD) and attempts that had a price. */
export const KT = { cost: 0, priced: 1, count: 2 } as const;

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
/** 24 h of minutes, 24 h of hours, 35 days. */
export const MINUTES = 1_440;
export const HOURS = 24;
export const DAYS = 35;
/** Keys that get minute buckets besides the hourly ones: the busiest of the last hour. */
export const BUSY_KEYS = 16;
/** Providers are configured, not sent by clients; past this many they share one series. */
export const MAX_PROVIDERS = 64;
