import { ApiProperty } from '@nestjs/swagger';
import type { UsersTable } from '../database/database.types.js';

export type Role = 'user' | 'admin';

/** A user as the API shows it: never the password hash. */
export class UserView {
  @ApiProperty() id!: number;
  @ApiProperty() email!: string;
  @ApiProperty() firstName!: string;
  @ApiProperty() lastName!: string;
  @ApiProperty({ enum: ['user', 'admin'] }) role!: Role;
  @ApiProperty() banned!: boolean;
  @ApiProperty({ description: 'ISO 8601' }) createdAt!: string;
}

/** What `GET /users/me` answers: exactly these three fields. */
export class ProfileView {
  @ApiProperty() email!: string;
  @ApiProperty() firstName!: string;
  @ApiProperty() lastName!: string;
}

/** What `GET /users/:id/public` answers to anyone: the id and the display name, nothing else. */
export class PublicProfileView {
  @ApiProperty() id!: number;
  @ApiProperty({ description: 'First and last name' }) name!: string;
}

export class UsersPage {
  @ApiProperty({ type: [UserView] }) items!: UserView[];
  @ApiProperty() total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() size!: number;
  @ApiProperty() pages!: number;
}

/** A row as read back from either engine. */
export type UserRow = Pick<UsersTable, 'email' | 'password_hash' | 'first_name' | 'last_name' | 'role'> & {
  id: number;
  banned: boolean | number;
  created_at: string | Date;
};

export function isoTime(value: string | Date): string {
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

/** Row → API object; plain data, built field by field, so nothing else can leak. */
export function toUserView(row: UserRow): UserView {
  return {
    id: Number(row.id),
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    role: row.role,
    banned: Boolean(row.banned),
    createdAt: isoTime(row.created_at),
  };
}

export function toProfileView(row: UserRow): ProfileView {
  return { email: row.email, firstName: row.first_name, lastName: row.last_name };
}

export function toPublicProfileView(row: UserRow): PublicProfileView {
  return { id: Number(row.id), name: `${row.first_name} ${row.last_name}` };
}
