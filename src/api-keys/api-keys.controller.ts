import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { apiKeySingleKeyBuilder, apiKeysListKeyBuilder, Cached } from '../cache/index.js';
import { AuthGuard } from '../auth/auth.guard.js';
import { ParseIdPipe } from '../common/parse-id.pipe.js';
import type { AuthUser } from '../auth/auth-user.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { Roles } from '../auth/roles.decorator.js';
import { RolesGuard } from '../auth/roles.guard.js';
import { ApiKeyView, CreatedApiKeyView } from './api-key.model.js';
import { ApiKeysService } from './api-keys.service.js';
import { CreateApiKeyDto } from './dto/create-api-key.dto.js';
import { UpdateApiKeyDto } from './dto/update-api-key.dto.js';

const id = new ParseIdPipe();

@ApiTags('api keys')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller('users/keys')
@UseGuards(AuthGuard, RolesGuard)
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @ApiCreatedResponse({ type: CreatedApiKeyView })
  create(@CurrentUser() user: AuthUser, @Body() dto: CreateApiKeyDto): Promise<CreatedApiKeyView> {
    return this.keys.create(user.id, dto.name, dto.scopes);
  }

  @Get()
  @Cached({ namespace: 'apikeys', keyBuilder: apiKeysListKeyBuilder })
  @ApiOkResponse({ type: [ApiKeyView] })
  list(@CurrentUser() user: AuthUser): Promise<ApiKeyView[]> {
    return this.keys.list(user.id);
  }

  @Get('by-user/:userId')
  @Roles(['admin'])
  @Cached({ namespace: 'apikeys', keyBuilder: apiKeysListKeyBuilder })
  @ApiOkResponse({ type: [ApiKeyView] })
  listOf(@Param('userId', id) userId: number): Promise<ApiKeyView[]> {
    return this.keys.list(userId);
  }

  @Patch('by-user/:userId/:keyId')
  @Roles(['admin'])
  @ApiOkResponse({ type: ApiKeyView })
  updateOf(
    @Param('userId', id) userId: number,
    @Param('keyId', id) keyId: number,
    @Body() dto: UpdateApiKeyDto,
  ): Promise<ApiKeyView> {
    return this.keys.update(userId, keyId, dto);
  }

  @Delete('by-user/:userId/:keyId')
  @HttpCode(204)
  @Roles(['admin'])
  @ApiNoContentResponse()
  async removeOf(@Param('userId', id) userId: number, @Param('keyId', id) keyId: number): Promise<void> {
    await this.keys.remove(userId, keyId);
  }

  @Get(':keyId')
  @Cached({ namespace: 'apikey', keyBuilder: apiKeySingleKeyBuilder })
  @ApiOkResponse({ type: ApiKeyView })
  get(@CurrentUser() user: AuthUser, @Param('keyId', id) keyId: number): Promise<ApiKeyView> {
    return this.keys.get(user.id, keyId);
  }

  @Patch(':keyId')
  @ApiOkResponse({ type: ApiKeyView })
  update(
    @CurrentUser() user: AuthUser,
    @Param('keyId', id) keyId: number,
    @Body() dto: UpdateApiKeyDto,
  ): Promise<ApiKeyView> {
    return this.keys.update(user.id, keyId, dto);
  }

  @Delete(':keyId')
  @HttpCode(204)
  @ApiNoContentResponse()
  async remove(@CurrentUser() user: AuthUser, @Param('keyId', id) keyId: number): Promise<void> {
    await this.keys.remove(user.id, keyId);
  }
}
