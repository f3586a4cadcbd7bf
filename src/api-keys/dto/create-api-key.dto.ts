import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

export const SCOPE_PATTERN = /^[a-z][a-z0-9:._-]{0,63}$/;

export class CreateApiKeyDto {
  @ApiProperty({ example: 'CI pipeline' })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name!: string;

  @ApiPropertyOptional({ type: [String], example: ['users:read'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @IsString({ each: true })
  @Matches(SCOPE_PATTERN, { each: true, message: 'each scope must look like "users:read"' })
  scopes?: string[];
}
