import { BadRequestException, Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';

const CANONICAL_ID = /^[1-9]\d{0,14}$/;

/** Whether `value` is an id as {@link ParseIdPipe} accepts it: a positive integer written the canonical way. */
export function isCanonicalId(value: string): boolean {
  return CANONICAL_ID.test(value);
}

/**
 * A positive integer id written the one canonical way (`7`, never `007` or `+7`): every id has exactly one
 * spelling, so it has exactly one cache key. Anything else is a 400.
 */
@Injectable()
export class ParseIdPipe implements PipeTransform<string, number> {
  transform(value: string, metadata: ArgumentMetadata): number {
    if (typeof value !== 'string' || !CANONICAL_ID.test(value)) {
      throw new BadRequestException(`${metadata.data ?? 'id'} must be a positive integer`);
    }
    return Number(value);
  }
}

/** For DTO fields: the canonical id as a number, or NaN (which `@IsInt()` then refuses). */
export function canonicalId({ value }: { value: unknown }): unknown {
  if (typeof value !== 'string') return value;
  return CANONICAL_ID.test(value) ? Number(value) : Number.NaN;
}
