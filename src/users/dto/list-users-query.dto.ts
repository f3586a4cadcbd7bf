import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { canonicalId } from '../../common/parse-id.pipe.js';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** `GET /users`: one user (`userId`) or a page of the list. */
export class ListUsersQueryDto {
  @ApiPropertyOptional({ description: 'Answer this one user instead of a page' })
  @IsOptional()
  @Transform(canonicalId)
  @IsInt({ message: 'userId must be a positive integer' })
  @Min(1)
  userId?: number;

  @ApiPropertyOptional({ default: 1, minimum: 1 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  page?: number;

  @ApiPropertyOptional({ default: 50, minimum: 1, maximum: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  size?: number;
}
