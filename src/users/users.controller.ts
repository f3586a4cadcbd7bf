import {
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiNoContentResponse, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Cached, userScopedKeyBuilder, usersListKeyBuilder } from '../cache/index.js';
import { AuthGuard } from '../auth/auth.guard.js';
import { ParseIdPipe } from '../common/parse-id.pipe.js';
import type { AuthUser } from '../auth/auth-user.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { Roles } from '../auth/roles.decorator.js';
import { RolesGuard } from '../auth/roles.guard.js';
import { ListUsersQueryDto } from './dto/list-users-query.dto.js';
import { SetPasswordDto } from './dto/set-password.dto.js';
import { UpdateUserDto } from './dto/update-user.dto.js';
import { ProfileView, UsersPage, UserView } from './user.model.js';
import { UsersService } from './users.service.js';
import { UserStats, UserStatsService } from './user-stats.service.js';

const id = new ParseIdPipe();

function selfOrAdmin(user: AuthUser, targetId: number): void {
  if (user.role !== 'admin' && user.id !== targetId)
    throw new ForbiddenException('Only the user or an admin may do this');
}

@ApiTags('users')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller('users')
@UseGuards(AuthGuard, RolesGuard)
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly userStats: UserStatsService,
  ) {}

  @Get('me')
  @Cached({ namespace: 'user', keyBuilder: userScopedKeyBuilder })
  @ApiOkResponse({ type: ProfileView })
  me(@CurrentUser() user: AuthUser): Promise<ProfileView> {
    return this.users.profile(user.id);
  }

  /** Counts over all users and keys, from a `@Cacheable` service method (admins only). */
  @Get('stats')
  @Roles(['admin'])
  @ApiOkResponse({ type: UserStats })
  stats(): Promise<UserStats> {
    return this.userStats.stats();
  }

  @Get()
  @Roles(['admin'])
  @Cached({ namespace: 'users', keyBuilder: usersListKeyBuilder })
  @ApiOkResponse({ description: 'One user (with userId) or a page of users', type: UsersPage })
  list(@Query() query: ListUsersQueryDto): Promise<UsersPage | UserView> {
    if (query.userId !== undefined) return this.users.get(query.userId);
    return this.users.list(query.page ?? 1, query.size ?? 50);
  }

  @Put(':id')
  @ApiOkResponse({ type: UserView })
  update(
    @Param('id', id) userId: number,
    @Body() dto: UpdateUserDto,
    @CurrentUser() user: AuthUser,
  ): Promise<UserView> {
    selfOrAdmin(user, userId);
    return this.users.update(userId, dto);
  }

  @Post(':id/make-admin')
  @HttpCode(204)
  @Roles(['admin'])
  @ApiNoContentResponse()
  async makeAdmin(@Param('id', id) userId: number): Promise<void> {
    await this.users.setRole(userId, 'admin');
  }

  @Post(':id/ban')
  @HttpCode(204)
  @Roles(['admin'])
  @ApiNoContentResponse()
  async ban(@Param('id', id) userId: number, @CurrentUser() user: AuthUser): Promise<void> {
    await this.users.setBanned(userId, true, user.id);
  }

  @Post(':id/unban')
  @HttpCode(204)
  @Roles(['admin'])
  @ApiNoContentResponse()
  async unban(@Param('id', id) userId: number, @CurrentUser() user: AuthUser): Promise<void> {
    await this.users.setBanned(userId, false, user.id);
  }

  @Post(':id/password')
  @HttpCode(204)
  @ApiNoContentResponse()
  async setPassword(
    @Param('id', id) userId: number,
    @Body() dto: SetPasswordDto,
    @CurrentUser() user: AuthUser,
  ): Promise<void> {
    selfOrAdmin(user, userId);
    await this.users.setPassword(userId, dto.password);
  }

  @Delete(':id')
  @HttpCode(204)
  @Roles(['admin'])
  @ApiNoContentResponse()
  async remove(@Param('id', id) userId: number): Promise<void> {
    await this.users.remove(userId);
  }
}
