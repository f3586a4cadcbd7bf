import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { isoTime } from '../users/user.model.js';

/** An API key as the API shows it: never the raw key nor its hash. */
export class ApiKeyView {
  @ApiProperty() id!: number;
  @ApiProperty() name!: string;
  @ApiProperty() isActive!: boolean;
  @ApiProperty({ type: [String] }) scopes!: string[];
  @ApiProperty({ description: 'ISO 8601' }) createdAt!: string;
  @ApiPropertyOptional({ description: 'ISO 8601', nullable: true, type: String }) lastUsedAt!: string | null;
}

/** The creation response: the only time the raw key is shown. */
export class CreatedApiKeyView extends ApiKeyView {
  @ApiProperty({ description: 'The raw key; store it now, it is never shown again' }) key!: string;
}

export interface ApiKeyRow {
  id: number;
  user_id: number;
  name: string;
  is_active: boolean | number;
  scopes: string;
  created_at: string | Date;
  last_used_at: string | Date | null;
}

function parseScopes(raw: string): string[] {
  try {
    const value: unknown = JSON.parse(raw);
    return Array.isArray(value) ? value.filter((s): s is string => typeof s === 'string') : [];
  } catch {
    return [];
  }
}

export function toApiKeyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: Number(row.id),
    name: row.name,
    isActive: Boolean(row.is_active),
    scopes: parseScopes(row.scopes),
    createdAt: isoTime(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : isoTime(row.last_used_at),
  };
}
